"""{% url %} and cached_reverse give Django's answers, remember them, and refuse what Django
refuses."""

from __future__ import annotations

import pytest
from django.template import engines
from django.urls import NoReverseMatch, reverse, set_script_prefix

from bookwell.core import urlcache
from bookwell.core.urlcache import cached_reverse


def test_the_tag_and_the_function_give_djangos_urls_and_remember_them(monkeypatch):
    calls: list[str] = []
    real = urlcache.reverse

    def counting(viewname: str, **kw: object) -> str:
        calls.append(viewname)
        return real(viewname, **kw)

    monkeypatch.setattr(urlcache, "reverse", counting)
    urlcache._remembered.clear()
    expected = reverse("tenancy:home", kwargs={"clinic_slug": "a-clinic"})
    tpl = engines["django"].from_string(
        "{% url 'tenancy:home' slug %}|{% url 'tenancy:home' 'other' %}"
    )
    for _ in range(3):
        assert (
            tpl.render({"slug": "a-clinic"})
            == f"{expected}|{reverse('tenancy:home', args=['other'])}"
        )
    assert calls.count("tenancy:home") == 2  # once per distinct link
    assert cached_reverse("tenancy:home", kwargs={"clinic_slug": "a-clinic"}) == expected


def test_no_match_still_fails_and_as_var_still_works():
    with pytest.raises(NoReverseMatch):
        cached_reverse("no-such-route")
    tpl = engines["django"].from_string("{% url 'no-such-route' as u %}[{{ u }}]")
    assert tpl.render({}) == "[]"


def test_a_script_prefix_is_part_of_what_is_remembered():
    urlcache._remembered.clear()
    plain = cached_reverse("landing")
    set_script_prefix("/bookwell/")
    try:
        assert cached_reverse("landing") == "/bookwell" + plain
    finally:
        set_script_prefix("/")
    assert cached_reverse("landing") == plain
