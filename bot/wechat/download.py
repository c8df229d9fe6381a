"""A file answer (a photo a resident sent, a QR code) read under a size cap and a deadline."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import SplitResult

import urllib3

from bot.wechat.errors import WeChatFileTooLarge, WeChatTimeout

# How much of a downloaded file is read at a time.
_DOWNLOAD_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Download:
    """How a file answer is read: at most ``max_bytes`` of it, all by ``deadline``
    (``time.monotonic()``), ``limit_s`` after the call began; None for no deadline. No
    single read waits longer than ``read_s``, the call's read timeout."""

    max_bytes: int
    limit_s: float | None
    deadline: float | None
    read_s: float | None


def read_file(raw: urllib3.BaseHTTPResponse, download: Download, parts: SplitResult) -> bytes:
    """A streamed file answer, read under ``download``'s size cap and deadline. A refused
    or late answer's connection is closed rather than drained, as the rest is not wanted."""
    reader = _CappedReader(raw, download, parts)
    try:
        return reader.read()
    except BaseException:
        raw.close()
        raise
    finally:
        reader.stop()
        raw.release_conn()


class _CappedReader:
    """Reads a streamed body of at most ``download.max_bytes``, all of it by the deadline.

    urllib3's read timeout bounds each socket read, so an answer trickling in a byte at a
    time would otherwise never time out. While the connection stays open after the
    answer (keep-alive), each read waits only what is left of the whole: the connection's
    socket gets that timeout before each read (``read1``, one socket read at a time).
    Only this thread touches the socket, and only while the response still holds its
    connection: urllib3 hands it back to the pool inside the read that ends the body,
    and another call may be using it by then. An answer that closes the connection after
    it (``Connection: close``) has left the connection without a socket, and its socket
    is never used again, so there a timer shuts the response down at the deadline
    (urllib3's ``shutdown``), which ends a read waiting on it.
    """

    def __init__(
        self, raw: urllib3.BaseHTTPResponse, download: Download, parts: SplitResult
    ) -> None:
        self._raw = raw
        self._download = download
        self._parts = parts
        self._timer: threading.Timer | None = None
        self._cut_off = threading.Event()

    def read(self) -> bytes:
        """The body: refused up front by its Content-Length when it declares one, else as
        soon as the bytes read pass the limit."""
        max_bytes = self._download.max_bytes
        declared = str(self._raw.headers.get("Content-Length") or "")
        if declared.isdecimal() and int(declared) > max_bytes:
            raise WeChatFileTooLarge(None, f"the file is {declared} bytes, over {max_bytes}")
        content = bytearray()
        while chunk := self._chunk():
            content += chunk
            if len(content) > max_bytes:
                raise WeChatFileTooLarge(None, f"the file is over {max_bytes} bytes")
        if self._cut_off.is_set():  # the end came from the shutdown, not from the server
            raise self._late()
        return bytes(content)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _chunk(self) -> bytes:
        """One socket read's worth of the body, waiting no longer than the read timeout
        nor past the deadline."""
        raw, download = self._raw, self._download
        connection = raw.connection
        if connection is None:
            return raw.read1(_DOWNLOAD_CHUNK)  # the body has ended: nothing left to wait for
        wait_s = download.read_s
        if download.deadline is not None:
            left_s = download.deadline - time.monotonic()
            if left_s <= 0:
                raise self._late()
            wait_s = left_s if wait_s is None else min(wait_s, left_s)
        sock = getattr(connection, "sock", None)
        if isinstance(sock, socket.socket):
            sock.settimeout(wait_s)
        elif download.deadline is not None and self._timer is None:
            self._timer = threading.Timer(download.deadline - time.monotonic(), self._shut)
            self._timer.daemon = True
            self._timer.start()
        try:
            return raw.read1(_DOWNLOAD_CHUNK)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            if wait_s != download.read_s:  # the wait was cut short by the deadline
                raise self._late() from None
            raise
        except (urllib3.exceptions.HTTPError, OSError):
            if self._cut_off.is_set():  # the shutdown at the deadline ended the read
                raise self._late() from None
            raise

    def _shut(self) -> None:
        """At the deadline: end the read waiting on a connection that closes after it.
        A body that ended meanwhile has handed its connection back and is left alone;
        the flag is set before the shutdown, so the reader never takes the end the
        shutdown makes for the end of the body."""
        if self._raw.connection is None:
            return
        self._cut_off.set()
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            self._raw.shutdown()  # raises if the body ended after all: nothing to end

    def _late(self) -> WeChatTimeout:
        return _late(self._download, self._parts)


def _late(download: Download, parts: SplitResult) -> WeChatTimeout:
    return WeChatTimeout(
        None,
        f"the download from {parts.scheme}://{parts.netloc}{parts.path} did not "
        f"finish within {download.limit_s:g}s",
    )
