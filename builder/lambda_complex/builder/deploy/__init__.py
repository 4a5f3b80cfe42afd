"""Deploying: the images to use, pause/resume, status, and the switchover around a deploy.

Plans are plain data computed by pure functions (`plan`); boto3 calls sit in `aws`."""
