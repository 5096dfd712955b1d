"""One Trainer for every family: model.loss(batch) -> AdamW, schedules, EMA, eval, resume, DDP."""
