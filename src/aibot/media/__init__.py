"""Pictures, voice and files users send: the blob store, type checks, text extraction, speech
to text, and the pipeline stage that turns attachments into what the model reads."""
