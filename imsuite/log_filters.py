"""Logging filters named in settings.LOGGING."""

import logging


class NoSecurityTracebacks(logging.Filter):
    """Django logs every refused request (a Host not in ALLOWED_HOSTS, too many form fields...) on
    django.security.* with the exception attached: a full traceback per request from anyone who
    sends a bad Host. The refusal itself is answered 400; its log line is kept, its traceback not."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security"):
            record.exc_info = None
            record.exc_text = None
        return True
