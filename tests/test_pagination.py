"""Every paged list finds its page the same way: a hostile or stale page number still shows a page."""

from __future__ import annotations

import pytest

from courseplatform.fields import MAX_PAGE
from courseplatform.pagination import Page


@pytest.mark.parametrize(
    ("asked", "shown"),
    [(1, 1), (2, 2), (3, 3), (4, 3), (999, 3), (0, 1), (-5, 1), (2**70, 3)],
)
def test_a_page_past_the_end_is_the_last_page(asked, shown):
    assert Page.at(asked, 10, 25).page == shown


@pytest.mark.parametrize(("asked", "shown"), [(4, 4), (999, 999), (0, 1), (-5, 1), (2**70, MAX_PAGE)])
def test_a_list_that_says_there_is_no_such_page_keeps_the_page_asked_for(asked, shown):
    found = Page.at(asked, 10, 25, keep_past_end=True)
    assert found.page == shown and found.pages == 3
    assert found.past_end == (shown > 3)


def test_an_empty_list_has_one_empty_page():
    found = Page.at(7, 10, 0)
    assert (found.page, found.pages, found.has_prev, found.has_next) == (1, 1, False, False)
    assert (found.first, found.last) == (0, 0)


def test_a_page_knows_its_neighbours_and_which_items_it_shows():
    found = Page.at(2, 10, 25).with_items(list(range(10, 20)))
    assert (found.prev_num, found.next_num, found.offset, found.first, found.last) == (1, 3, 10, 11, 20)
    last = Page.at(3, 10, 25).with_items([20, 21, 22, 23, 24])
    assert (last.has_next, last.next_num, last.first, last.last) == (False, None, 21, 25)
