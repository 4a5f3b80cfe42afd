"""Lambda Complex: queue-driven applications made of AWS Lambda functions.

`lambda_complex.builder` runs on developer machines and CI; `lambda_complex.runtime` runs inside
Lambda and never imports the builder.
"""
