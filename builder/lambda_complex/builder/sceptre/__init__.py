"""Sceptre plugins (registered through entry points in pyproject.toml):

- template handler `lambda_complex`: renders a named stack from lambda-complex.yaml;
- resolver `!lc_image [component]`: the image by digest from the build manifest;
- hook `!lc_switchover begin|finish|before_delete|after_delete`: pause, move, resume.
"""
