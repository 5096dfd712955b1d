"""A rich progress bar on stderr for one-off work (evaluation, sampling); silent off a terminal."""


def task_bar(label: str, total: int, enabled: bool = True):
    """Returns update(done) to advance the bar and update(None) to close it."""
    if not enabled:
        return lambda done: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return lambda done: None
    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                   transient=True)
    bar.start()
    task = bar.add_task(label, total=total)

    def update(done):
        if done is None:
            bar.stop()
        else:
            bar.update(task, completed=done)

    return update
