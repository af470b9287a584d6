"""Paging through list calls whose page token is the offset of the next page (flyteadmin's rule: a token comes
only with a full page), several pages in flight at a time, pages given back in order."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from typing import Any, Callable, NamedTuple

from flytecodec.bulk import Batch, decode
from flytecodec.exceptions import DecodeError
from flytecodec.sources import SourceError


class PageList:
    """One list call to page through: its method, its request (without token), the model of its records.
    A ``speculate`` list has its next pages requested before the first comes back (it is expected to be long);
    the others only once a page came back full."""

    __slots__ = ("continued", "ended", "futures", "method", "model", "next_offset", "page_size", "read_offset",
                 "request", "speculate")  # fmt: skip

    def __init__(self, method: str, request: Any, model: type, page_size: int, speculate: bool):
        self.method = method
        self.request = request
        self.model = model
        self.page_size = page_size
        self.speculate = speculate
        self.futures: dict[int, Any] = {}
        self.next_offset = 0  # of the next page to request
        self.read_offset = 0  # of the next page to give back
        self.continued = False  # a page came back full, with a token
        self.ended = False

    def wants_more(self) -> bool:
        return not self.ended and (self.speculate or self.continued)


class Page(NamedTuple):
    list: PageList
    offset: int
    batch: Batch
    nbytes: int


def fetch_pages(
    lists: deque[PageList],
    submit: Callable[[PageList, int], Any],
    on_error: Callable[[Exception, PageList, int, int], Exception],
    in_flight: int,
    retry: Callable[[Exception, int], float | None] = lambda error, attempt: None,
) -> Iterator[Page]:
    """The pages of ``lists`` in order (each list's pages, then the next list's), at most ``in_flight``
    requested at a time. ``submit(list, offset)`` starts a call and gives a future of the page's bytes;
    ``retry(error, attempts so far)`` gives the seconds to wait before asking for a failed page again (the
    token is an offset, so asking again is safe), or None to give up; ``on_error(error, list, offset,
    attempts)`` turns the failure given up on into the error to raise. ``lists`` may grow while pages are read
    (the caller appends lists found in the pages it was given); empty pages are left out."""
    started: deque[PageList] = deque()
    try:
        while True:
            _fill(started, lists, submit, in_flight)
            if not started:
                return
            head = started[0]
            offset = head.read_offset
            if offset not in head.futures:
                _request(head, submit)
            data = _result(head, offset, submit, on_error, retry)
            batch = _decode(head, offset, data)
            if batch.token:
                expected = str(offset + head.page_size)
                if batch.token != expected:
                    raise SourceError(
                        f"{head.method}: the page at offset {offset} came with the token {batch.token!r}, not the "
                        f"offset of the next page ({expected}) as flyteadmin gives it"
                    )
                head.continued = True
                head.read_offset = offset + head.page_size
            else:
                head.ended = True
                _cancel(head)
                started.popleft()
            if len(batch):
                yield Page(head, offset, batch, len(data))
    finally:
        for plist in started:
            _cancel(plist)


def _result(plist: PageList, offset: int, submit, on_error, retry) -> bytes:
    """The bytes of the page at ``offset``, asked for again as long as ``retry`` says to."""
    attempts = 1
    while True:
        try:
            return plist.futures.pop(offset).result()
        except Exception as error:
            wait = retry(error, attempts)
            if wait is None:
                raise on_error(error, plist, offset, attempts) from None
        time.sleep(wait)
        attempts += 1
        plist.futures[offset] = submit(plist, offset)


def _fill(started: deque[PageList], lists: deque[PageList], submit, in_flight: int) -> None:
    busy = sum(len(plist.futures) for plist in started)
    while busy < in_flight:
        plist = next((p for p in started if p.wants_more()), None)
        if plist is None:
            if not lists:
                return
            plist = lists.popleft()
            started.append(plist)
        _request(plist, submit)
        busy += 1


def _request(plist: PageList, submit) -> None:
    plist.futures[plist.next_offset] = submit(plist, plist.next_offset)
    plist.next_offset += plist.page_size


def _cancel(plist: PageList) -> None:
    for future in plist.futures.values():
        future.cancel()
    plist.futures.clear()


def _decode(plist: PageList, offset: int, data: bytes) -> Batch:
    try:
        return decode(plist.model, data, framing="list")
    except DecodeError as error:
        raise DecodeError(
            f"{plist.method}, page at offset {offset}: {error.reason}",
            index=offset + error.index,
            offset=error.offset,
            model=error.model,
            hint=error.hint,
        ) from None
