"""The cold tier: conversation history in an S3-compatible bucket, with a stub per object in the
database (store/archive/archiver.py moves turns out, restore.py brings them back)."""
