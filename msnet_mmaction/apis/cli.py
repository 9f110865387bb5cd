"""What the command-line tools share: one-line errors for failures the user can act on."""
import re
import sys
from typing import Callable

from mmengine.config import Config

from ..errors import ActionableError

_WORKER_DIED = re.compile(r'DataLoader worker \(pid')


def run_tool(main: Callable[[], None]) -> None:
    """Run a tool's ``main``; an :class:`~msnet_mmaction.errors.ActionableError` ends it with
    ``error: <message>`` on stderr and exit status 1 instead of a traceback."""
    try:
        main()
    except ActionableError as error:
        print(f'error: {error}', file=sys.stderr)
        raise SystemExit(1) from None


def explain_training_failure(error: BaseException, cfg: Config) -> BaseException:
    """An :class:`ActionableError` for failures of a training run that have a known remedy,
    else ``error`` itself.

    A data loader worker that died (killed by the out-of-memory killer, say) surfaces as
    PyTorch's ``RuntimeError: DataLoader worker (pid ...) ... exited unexpectedly``, which says
    nothing about the checkpoints: this names the work dir to resume from.
    """
    if isinstance(error, RuntimeError) and _WORKER_DIED.search(str(error)):
        return ActionableError(
            f'a data loader worker process died ({error}); the out-of-memory killer is the usual '
            'cause: lower train_dataloader.num_workers or batch_size, then continue from the last '
            f'checkpoint in {cfg.work_dir} with --resume')
    return error
