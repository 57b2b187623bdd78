"""What the cost model knows about one convolution call, for any number of spatial dimensions.

Torch-free: shapes are plain integers, so the cost model and the variant grammar import without
torch. :func:`hetcalc.trace.conv_shape` fills a :class:`ConvShape` from a real module call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hetcalc.errors import InvalidArgument
from hetcalc.numbers import parse_int, shown

Size = tuple[int, ...]
"""One entry per spatial dimension: (L,) for Conv1d, (H, W) for Conv2d, (D, H, W) for Conv3d."""


@dataclass(frozen=True)
class ConvShape:
    """One convolution as it was called: channels, kernel geometry, and its input and output
    sizes (spatial dimensions only; ``batch`` is the batch size N of the call)."""

    in_channels: int
    out_channels: int
    kernel: Size
    stride: Size
    padding: Size
    """Zeros (or ``padding_mode`` values) added before each spatial dimension."""
    dilation: Size
    groups: int
    bias: bool
    input_size: Size
    output_size: Size
    batch: int = 1
    padding_mode: str = "zeros"
    padding_symmetric: bool = True
    """False for a ``padding="same"`` conv whose total padding is odd (one more after)."""
    transposed: bool = False

    @property
    def dims(self) -> int:
        """Spatial dimensions: 1, 2 or 3."""
        return len(self.kernel)

    @property
    def kernel_volume(self) -> int:
        """``K²`` of the paper: the product of the kernel's sizes."""
        return _product(self.kernel)

    @property
    def pointwise(self) -> bool:
        return self.kernel_volume == 1

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.in_channels


POSITIONS = {1: "Lo", 2: "Do*Do", 3: "To*Ho*Wo"}
"""The paper's ``Do²`` (the output's positions) in words for a conv of 1, 2 or 3 dimensions."""
TAPS = {1: "K", 2: "K*K", 3: "K*K*K"}
"""The paper's ``K²`` (the kernel's taps) in words for a conv of 1, 2 or 3 dimensions."""


def pointwise_words(dims: int) -> str:
    """A kernel of one tap, as a reader of that conv says it: ``1x1`` (2-D), ``1x1x1`` (3-D),
    ``of size 1`` (1-D)."""
    return "kernel of size 1" if dims == 1 else f"{'x'.join(['1'] * dims)} kernel"


def _product(values: Size) -> int:
    result = 1
    for value in values:
        result *= value
    return result


def as_size(value: int | Size, dims: int) -> Size:
    """An int (the same for every dimension) or a sequence of ``dims`` ints, as a tuple."""
    if isinstance(value, int):
        return (value,) * dims
    size = tuple(int(v) for v in value)
    if len(size) != dims:
        raise ValueError(f"expected {dims} values, got {value!r}")
    return size


def resolve_padding(padding: int | Size | str, kernel: Size, dilation: Size
                    ) -> tuple[tuple[int, int], ...]:
    """Zeros added (before, after) each spatial dimension, as ``torch.nn.ConvNd`` pads.

    ``"valid"`` pads nothing; ``"same"`` (stride 1) pads ``d·(k−1)`` in all, half before and the
    rest after, so an even kernel pads one more after; an int or tuple pads both sides alike.
    """
    if padding == "valid":
        return tuple((0, 0) for _ in kernel)
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if isinstance(padding, str):
        raise ValueError(f"padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
    return tuple((p, p) for p in as_size(padding, len(kernel)))


MAX_SIZE = 2**31 - 1
"""The largest size of an input shape (batch, channels, each spatial size): what a 32-bit index
holds, far beyond any input hetcalc can count or time."""
INPUT_SHAPE_FORMS = "N,C,L (1-D), N,C,H,W (2-D) or N,C,D,H,W (3-D), e.g. 1,3,224,224"


def sizes(value: object, fewest: int = 3) -> tuple[int, ...] | None:
    """An input shape from text (``"1,3,224,224"``, ``"1x3x224x224"``) or a list or tuple of
    ints: ``fewest`` (3 unless told) to 5 sizes, each 1 to :data:`MAX_SIZE`, in ASCII digits
    (:func:`hetcalc.numbers.parse_int`); ``None`` for anything else."""
    if isinstance(value, str):
        parts: list[object] = [p.strip() for p in value.replace("x", ",").split(",")]
    elif isinstance(value, list | tuple) and all(isinstance(v, int) for v in value):
        parts = list(value)  # ints only (a bool is refused by parse_int)
    else:
        return None
    if not fewest <= len(parts) <= 5:
        return None
    try:
        return tuple(parse_int(part, 1, MAX_SIZE) for part in parts)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None


def size_note(value: object) -> str:
    """``"; each size is at most 2147483647"`` when a size of ``value`` (text or a list) is an
    integer above :data:`MAX_SIZE`, for the message that refuses it; else ``""``."""
    parts = str(value).replace("x", ",").strip("[]()").split(",") \
        if isinstance(value, str | list | tuple) else []
    digits = [part.strip() for part in parts]
    if any(d.isascii() and d.isdigit() and (len(d) > 10 or int(d) > MAX_SIZE) for d in digits):
        return f"; each size is at most {MAX_SIZE}"
    return ""


def parse_input_shape(text: str) -> tuple[int, ...]:
    """Parse ``N,C,L``, ``N,C,H,W`` or ``N,C,D,H,W`` (also ``1x3x224x224``): positive integers,
    any batch size ``N``."""
    shape = sizes(str(text))
    if shape is None:
        raise InvalidArgument(f"input_shape must be positive integers {INPUT_SHAPE_FORMS}; "
                              f"got {shown(text)}{size_note(text)}", argument="input_shape")
    return shape


INPUT_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
                "uint8", "bool")
"""The dtypes an input shape may name after a colon (``1,16:int64``); float32 unless named."""
MORE_INPUT_FORMS = (f"1 to 5 positive integers, optionally :dtype ({', '.join(INPUT_DTYPES)}), "
                    "e.g. 1,1,224,224 or 1,16:int64")


@dataclass(frozen=True)
class TensorShape:
    """One input tensor as a shape names it: its sizes and its dtype (torch's name, without
    ``torch.``). A floating-point input runs in the model's own dtype; the others keep theirs."""

    sizes: tuple[int, ...]
    dtype: str = "float32"

    def __str__(self) -> str:
        text = ",".join(map(str, self.sizes))
        return text if self.dtype == "float32" else f"{text}:{self.dtype}"


InputShapes = Sequence[int] | Sequence[Sequence[int] | str | TensorShape] | str | TensorShape
"""One input shape, or a list of several (one per positional input tensor):
:func:`input_shapes` reads either."""


def tensor_shape(value: object, first: bool = True) -> TensorShape | None:
    """One input's shape: a :class:`TensorShape`, a list or tuple of ints, or text with an
    optional dtype (``"1,3,224,224"``, ``"1,16:int64"``). The first input (the model's main one)
    has 3 to 5 sizes (:data:`INPUT_SHAPE_FORMS`), any other 1 to 5; ``None`` when it is none of
    these."""
    if isinstance(value, TensorShape):
        value, dtype = value.sizes, value.dtype
    elif isinstance(value, str) and ":" in value:
        value, _, dtype = value.rpartition(":")
        dtype = dtype.strip()
    else:
        dtype = "float32"
    if dtype not in INPUT_DTYPES:
        return None
    shape = sizes(value, 3 if first else 1)
    return None if shape is None else TensorShape(shape, dtype)


def input_shapes(value: object) -> tuple[TensorShape, ...]:
    """The shapes of a forward's positional inputs, one per tensor: one shape (a list or tuple
    of ints, text, a :class:`TensorShape`) or a list or tuple of several. A bad one is an
    :class:`~hetcalc.errors.InvalidArgument` naming it (``input_shape``, the first; ``input_shape
    2``, the second)."""
    several = isinstance(value, list | tuple) and bool(value) and not all(
        isinstance(v, int) for v in value)
    items: Sequence[object] = value if several else [value]  # type: ignore[assignment]
    shapes = []
    for index, item in enumerate(items):
        shape = tensor_shape(item, first=index == 0)
        if shape is None and index == 0:
            raise InvalidArgument(f"input_shape must be positive integers {INPUT_SHAPE_FORMS}; "
                                  f"got {shown(item)}{size_note(item)}", argument="input_shape")
        if shape is None:
            raise InvalidArgument(f"input_shape {index + 1} must be {MORE_INPUT_FORMS}; got "
                                  f"{shown(item)}{size_note(item)}", argument="input_shape")
        shapes.append(shape)
    return tuple(shapes)


def shapes_text(shapes: Sequence[TensorShape]) -> str:
    """``1,3,8,8`` for one float32 input, ``1,3,8,8 + 1,16:int64`` for several."""
    return " + ".join(map(str, shapes))
