"""_errors.py — xfwd.Error: a failed libxfwd call, with the library's message and status."""
from . import _capi


class Error(Exception):
    """A libxfwd call failed. str(e) is the library's one-line message (it names the
    file or argument and what is wrong); e.status is the xf_status number and
    e.status_name its name, e.g. "XF_ERR_FORMAT"."""

    def __init__(self, message, status=_capi.XF_ERR_INVALID_ARG):
        super().__init__(message)
        self.message = message
        self.status = int(status)
        self.status_name = (_capi.STATUS_NAMES[self.status] if 0 <= self.status < len(_capi.STATUS_NAMES)
                            else f"status {self.status}")


def check(status):
    """Raises Error for a non-zero xf_status, with xf_last_error() of this thread."""
    if status != _capi.XF_OK:
        msg = _capi.fn("xf_last_error")()
        raise Error(msg.decode("utf-8", "replace") if msg else _capi.STATUS_NAMES[status], status)
