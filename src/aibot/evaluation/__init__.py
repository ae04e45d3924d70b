"""`ai-bot eval`: run models over a test set, score the answers, say which model is better.

dataset (load and validate), history (sample from the store), runner (call the models),
scoring and judge (per-answer scores), stats (paired bootstrap), report / html_report /
terminal (the outputs).
"""
