"""The from-scratch rule's static check."""

from __future__ import annotations

import pytest

from mlkata.banned import find_violations

BANNED = ("softmax", "scaled_dot_product_attention")
IMPORTS = ("solutions", "torch.optim")


@pytest.mark.parametrize("source", [
    "import torch\ny = torch.softmax(x, -1)",
    "import torch.nn.functional as F\ny = F.softmax(x, dim=-1)",
    "y = x.softmax(-1)",
    "from torch.nn.functional import softmax",
    "from torch.nn.functional import scaled_dot_product_attention as sdpa",
    "y = getattr(F, 'softmax')(x)",
    "import solutions.attention",
    "from solutions import attention",
    "from torch.optim import AdamW",
    "from torch import optim",
    "import torch.optim as o",
    "m = __import__('solutions')",
    "from ..solutions import attention",
])
def test_banned_uses_are_found(source):
    assert find_violations(source, BANNED, IMPORTS), source


@pytest.mark.parametrize("source", [
    "def softmax(x, dim=-1):\n    return x\n\ny = softmax(x)",
    "import torch\ny = torch.exp(x)",
    "from .attention import softmax",
    "import torch.nn as nn",
])
def test_own_code_is_allowed(source):
    assert find_violations(source, BANNED, IMPORTS) == []


def test_violation_names_the_line():
    [violation] = find_violations("import torch\n\ny = torch.softmax(x, -1)\n", BANNED, IMPORTS)
    assert violation.line == 3 and "softmax" in str(violation)
