"""What ``hotline simulate`` prints for a menu's output: a USSD screen or what a call would say.

Pure text, shared by the terminal walk (``menudesk.simulate``) and the call through FastAGI
(``menudesk.simulate_call``).
"""

from __future__ import annotations

from menus.types import Output, Say, SayDigits, Wait


def describe_wait(wait: Wait, lang: str) -> str:
    """How the channel collects the next input, in words."""
    count = (
        f"{wait.min_digits} key(s)"
        if wait.min_digits == wait.max_digits
        else f"{wait.min_digits}-{wait.max_digits} keys, end with #"
    )
    star = ", * = X" if wait.allow_star else ""
    return (
        f"[waits for {count}{star}; first key within {wait.first_timeout_s:g} s, "
        f"then {wait.inter_timeout_s:g} s between keys]"
    )


def render(output: Output, channel: str, lang: str) -> str:
    """The output as the channel presents it: a USSD screen or the lines a call would say."""
    if channel == "ussd":
        head = "END" if output.ends else "CON"
        body = output.text()
        width = max((len(line) for line in body.splitlines()), default=0)
        return f"--- {head} ({len(body)} chars) " + "-" * max(0, width - 10) + f"\n{body}\n"
    lines: list[str] = []
    for part in output.parts:
        if isinstance(part, SayDigits):
            lines.append("  say digits: " + " ".join(part.digits))
        elif isinstance(part, Say):
            name = f" [prompt {part.prompt}]" if part.prompt else ""
            lines.append(f"  say{name}: {part.text}")
    if output.wait is None:
        lines.append("  [hang up]")
    else:
        lines.append("  " + describe_wait(output.wait, lang))
    return "\n".join(lines) + "\n"
