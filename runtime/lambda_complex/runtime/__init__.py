"""What runs inside Lambda: stdlib and boto3 only, fast to import. Never imports the builder."""
