"""The admin console (/admin): accounts, sessions, roles, audit log, API keys and the pages.

Secure by default: there is no default account (the first one comes from `ai-bot admin
create-user`), passwords are argon2id hashes, logins lock out after repeated failures, sessions
are server-side rows behind an HttpOnly SameSite=Strict cookie, every state change carries a
CSRF token, is checked against the user's role and is written to the audit log.
"""
