"""The emulator's account and region: every local ARN is in them (moto's defaults). Apart from
`emulator`, so that what only builds ARNs does not import the emulator's launcher."""

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"
