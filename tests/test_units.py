"""Durations as text: each formatter takes its own unit and they agree on what they print."""

from __future__ import annotations

from streamtape._units import format_ms, format_ns, format_seconds


def test_each_unit_prints_the_same_duration_the_same_way() -> None:
    assert format_ns(12_345_678) == format_ms(12.345678) == format_seconds(0.012345678)
    assert format_ns(12_345_678) == "12.3 ms"


def test_seconds_read_as_seconds_from_one_second_up() -> None:
    assert format_seconds(0.9994) == "999.4 ms"
    assert format_seconds(1.5) == "1.500 s"
    assert format_ms(1500) == "1500.0 ms"


def test_nothing_is_a_dash() -> None:
    assert format_ms(None) == format_ns(None) == format_seconds(None) == "-"
