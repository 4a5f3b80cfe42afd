"""The example's handlers are plain Lambda handlers: tested directly, S3 writers against the
emulator."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import boto3
import pytest

from lambda_complex.builder.local.aws.emulator import Emulator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sitegen"
BUCKET = "sitegen-example-site"


def module(component: str, name: str) -> ModuleType:
    path = EXAMPLE / component / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"sitegen_{name}", path)
    assert spec and spec.loader
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


SITE = json.loads((EXAMPLE / "site.json").read_text())


def test_ingest_checks_and_normalises_pages() -> None:
    ingest = module("ingest", "ingest")
    result = ingest.handler(SITE, None)
    assert [p["slug"] for p in result["pages"]] == ["about", "install", "images", "deploy"]
    assert all(p["site"] == "demo" for p in result["pages"])
    for bad in ({"site": "Demo!", "pages": [{}]}, {"site": "demo", "pages": []},
                {"site": "demo", "pages": [{"slug": "index"}]}):
        with pytest.raises(ingest.InvalidSite):
            ingest.handler(bad, None)


def test_ingest_routing_fans_out_one_render_per_page_and_one_toc() -> None:
    routes = module("ingest", "routes")
    result = module("ingest", "ingest").handler(SITE, None)
    out = routes.fan_out(None, result)
    assert [r["name"] for r in out] == ["render"] * 4 + ["toc"]
    assert out[-1]["data"]["pages"][0] == {"slug": "about", "title": "About"}
    assert routes.fan_out(ValueError("x"), None) == []


def test_render_escapes_and_structures_html() -> None:
    render = module("render", "render")
    page = render.handler({"site": "demo", "slug": "about", "title": "A <b>",
                           "body": "## Head\n\nx & y"}, None)
    assert "<h1>A &lt;b&gt;</h1>" in page["html"]
    assert "<h2>Head</h2>" in page["html"] and "<p>x &amp; y</p>" in page["html"]
    assert page["slug"] == "about" and isinstance(page["speedups"], bool)


def test_toc_lists_pages_sorted_by_title() -> None:
    toc = module("toc", "toc")
    page = toc.handler({"site": "demo", "pages": [{"slug": "b", "title": "Beta"},
                                                  {"slug": "a", "title": "alpha"}]}, None)
    assert page["slug"] == "index"
    assert page["html"].index("alpha") < page["html"].index("Beta")


def test_search_index_merge_is_idempotent_per_page() -> None:
    merge = module("search-index", "search_index").merge
    index = merge({}, "about", "Queues and functions")
    index = merge(index, "install", "queues scale")
    assert index["queues"] == ["about", "install"]
    again = merge(index, "about", "only functions now")
    assert again["queues"] == ["install"] and again["functions"] == ["about"]


@pytest.fixture
def bucket(aws: Emulator, monkeypatch: pytest.MonkeyPatch) -> str:
    boto3.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": aws.region})
    monkeypatch.setenv("SITE_BUCKET", BUCKET)
    return BUCKET


def test_publish_and_search_index_write_to_s3(bucket: str) -> None:
    page = module("render", "render").handler(
        {"site": "demo", "slug": "about", "title": "About", "body": "queues"}, None)
    written = module("publish", "publish").handler(page, None)
    assert written == {"bucket": bucket, "key": "demo/about.html"}
    search = module("search-index", "search_index")
    search.handler(page, None)
    search.handler({**page, "slug": "install", "text": "queues again"}, None)
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket=bucket, Key="demo/about.html")["Body"].read().decode()
    assert "<h1>About</h1>" in body
    index = json.loads(s3.get_object(Bucket=bucket, Key="demo/search.json")["Body"].read())
    assert index["queues"] == ["about", "install"]
