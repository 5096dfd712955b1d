"""A rich progress bar (loss, img/s, ETA) on a terminal; a plain line every 30 s otherwise (logs)."""

import time


class EpochProgress:
    def __init__(self, epoch: int, epochs: int, steps: int, start: int, enabled: bool, console=None):
        self.epoch, self.epochs, self.steps, self.start = epoch, epochs, steps, start
        self.enabled = enabled
        self.console = console
        self.progress = None
        self.last_print = time.monotonic()

    def __enter__(self):
        if not self.enabled:
            return self
        from rich.console import Console

        console = self.console or Console(stderr=True)
        if console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[rate]:.0f} img/s"),
                TimeRemainingColumn(), console=console, transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("train", total=self.steps, completed=self.start,
                                               epoch=f"{self.epoch + 1}/{self.epochs}", loss=float("nan"), rate=0.0)
        return self

    def update(self, done: int, loss: float, rate: float) -> None:
        if not self.enabled:
            return
        if self.progress is not None:
            self.progress.update(self.task, completed=done, loss=loss, rate=rate)
        elif time.monotonic() - self.last_print > 30 or done == self.steps:
            self.last_print = time.monotonic()
            print(f"epoch {self.epoch + 1}/{self.epochs} batch {done}/{self.steps} loss {loss:.4f} "
                  f"{rate:.0f} img/s", flush=True)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        return False
