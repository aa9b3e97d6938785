"""Shell completion for ``l4sim``: a script written from the command line's own parser.

``l4sim completion bash`` prints a bash function that completes the commands,
each command's options and the values of options and arguments with a fixed
set of choices (files and folders otherwise); ``l4sim completion zsh`` the same
for zsh, through its bash compatibility (``bashcompinit``). Generated from the
parser, the script knows every option there is, and no option there is not.
"""

from __future__ import annotations

import argparse
import shlex

BASH = """\
# l4sim completion for bash: eval "$(l4sim completion bash)" in ~/.bashrc
_l4sim_complete() {{
    local current previous command
    current="${{COMP_WORDS[COMP_CWORD]}}"
    previous="${{COMP_WORDS[COMP_CWORD-1]}}"
    command=""
    local word
    for word in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        case "$word" in -*) ;; *) command="$word"; break ;; esac
    done
    case "$command" in
{commands}
        *)
            COMPREPLY=($(compgen -W {top} -- "$current")) ;;
    esac
}}
complete -o default -o bashdefault -F _l4sim_complete l4sim
"""

ZSH = """\
# l4sim completion for zsh: eval "$(l4sim completion zsh)" in ~/.zshrc
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
"""


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        option
        for action in parser._actions
        for option in action.option_strings
        if action.help != argparse.SUPPRESS
    ]


def _case(name: str, command: argparse.ArgumentParser) -> str:
    """The bash case of one command: its options, the choices of its values."""
    lines = [f"        {name})"]
    valued = [
        action
        for action in command._actions
        if action.option_strings and action.choices is not None
    ]
    if valued:
        lines.append('            case "$previous" in')
        for action in valued:
            options = "|".join(action.option_strings)
            words = shlex.quote(" ".join(map(str, action.choices or ())))
            lines.append(
                f'                {options}) COMPREPLY=($(compgen -W {words} -- "$current")); '
                "return ;;"
            )
        lines.append("            esac")
    positional = [
        str(choice)
        for action in command._actions
        if not action.option_strings and action.choices is not None
        for choice in action.choices
    ]
    words = shlex.quote(" ".join(_options(command) + positional))
    lines.append(
        '            if [[ "$current" == -* || -n '
        + (shlex.quote(" ".join(positional)) if positional else '""')
        + f' ]]; then COMPREPLY=($(compgen -W {words} -- "$current")); fi ;;'
    )
    return "\n".join(lines)


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser``'s program for ``shell`` (bash or zsh)."""
    commands = _subcommands(parser)
    top = shlex.quote(" ".join([*commands, *_options(parser)]))
    body = BASH.format(
        commands="\n".join(_case(name, command) for name, command in commands.items()),
        top=top,
    )
    return body if shell == "bash" else ZSH + body
