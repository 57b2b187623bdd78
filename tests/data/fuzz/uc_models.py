"""Model builders that misbehave, for tests/data/fuzz/user_code.txt: each must end hetcalc with
one line and exit 2, whatever it raises, however it exits, whatever shape it declares."""

import sys
import time

from torch import nn


def small():
    """A good model, well over a budget of 1 MAC."""
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3))


small.input_shape = (1, 3, 8, 8)


def exit0():
    sys.exit(0)


def exit3():
    sys.exit(3)


def exit_bare():
    sys.exit()


def exit_text():
    sys.exit("it is over\nsays the builder")


def generator_exit():
    raise GeneratorExit("closed")


def recursion():
    return recursion()


class Strange(BaseException):
    """Neither an Exception nor an exit."""


def strange():
    raise Strange("odd")


def multiline():
    raise ValueError("first line\nsecond line\n\nfourth line")


def long_message():
    raise ValueError("x" * 20_000)


def says_interrupted():
    raise RuntimeError("KeyboardInterrupt: not really, just words")


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no words for it")


def unprintable():
    raise Unprintable()


def stop_iteration():
    raise StopIteration("early")


def sleeps():
    time.sleep(60)
    return small()


class _Forward(nn.Module):
    def __init__(self, action):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.action = action

    def forward(self, x):
        self.action()
        return self.conv(x)


def forward_exits():
    return _Forward(lambda: sys.exit(0))


def forward_generator_exit():
    return _Forward(generator_exit)


def forward_recursion():
    return _Forward(recursion)


def forward_strange():
    return _Forward(strange)


def forward_sleeps():
    return _Forward(lambda: time.sleep(60))


def _declaring(shape):
    model = nn.Conv2d(3, 8, 3)
    model.input_shape = shape
    return model


def shape_zero():
    return _declaring((1, 3, 0, 32))


def shape_text():
    return _declaring("1,3,32,32")


def shape_float():
    return _declaring((1, 3, 32.0, 32))


def shape_two_dims():
    return _declaring((3, 32))


def shape_six_dims():
    return _declaring((1, 3, 2, 2, 2, 2))


def shape_bool():
    return _declaring((1, True, 32, 32))


def shape_negative():
    return _declaring([1, 3, -32, 32])


def shape_number():
    return _declaring(224)


def builder_shape():
    return nn.Conv2d(3, 8, 3)


builder_shape.input_shape = (1, 3, 224)


def builder_shape_text():
    return nn.Conv2d(3, 8, 3)


builder_shape_text.input_shape = "224x224"


def gray():
    """One input channel and no declared shape: fails at the default 1,3,224,224."""
    return nn.Conv2d(1, 8, 3)
