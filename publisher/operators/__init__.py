"""The office's operators: their accounts, console sessions, API tokens, and the audit log of
what they changed."""
