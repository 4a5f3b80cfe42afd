"""`lcbuild images`: content-addressed Lambda container images, built in parallel with the
Docker SDK and pushed by digest.

plan (pure decisions) · context (files, hashes, tar contexts) · dockerfile (render) ·
build (Docker SDK edge) · registry (ECR and OCI registries edge) · manifest (.lcbuild/images.json) ·
progress (display) · api (`build_images`, what the CLI calls).
"""
