"""Test helpers, one module per responsibility; every public name is re-exported here, so
tests write `from tests.helpers import check_call` whatever module it lives in.

- `compare`: tolerances, `Mismatch`, `check_call`/`check_module_call`, gradients, the
  from-scratch check: what every exercise uses.
- `mistakes`, `decoding`, `attention_checks`, `numpy_checks`, `optim_checks`,
  `tokenizer_checks`: what one family of exercises needs.
"""

from tests.helpers.compare import (  # noqa: F401
    TOLERANCES, Mismatch, describe, describe_call, expect_tensor, explain_difference,
    assert_close, check_call, check_module_call, assert_no_banned_apis,
    assert_gradients_match_finite_differences, assert_real_close, check_outputs,
    check_real_call, assert_projections,
)
from tests.helpers.attention_checks import (  # noqa: F401
    assert_head_sources, record_allocations, assert_no_full_score_matrix,
)
from tests.helpers.numpy_checks import (  # noqa: F401
    describe_array, expect_array, assert_close_np, check_numpy,
    assert_numpy_gradients_match_finite_differences,
)
from tests.helpers.optim_checks import (  # noqa: F401
    check_tensors, check_trajectory,
)
from tests.helpers.tokenizer_checks import (  # noqa: F401
    check_exact, check_merges,
)
from tests.helpers.mistakes import (  # noqa: F401
    name_the_mistake, check_call_explained, expect_dtype, swap_pair_members,
    interleaved_to_halves, halves_to_interleaved, sinusoidal_mistakes, rope_table_mistakes,
    rope_mistakes, alibi_slope_mistakes, alibi_bias_mistakes,
)
from tests.helpers.decoding import (  # noqa: F401
    require, SeededGenerator, diagnosable, LookupLM, ScriptedLM, greedy_mistakes,
    explain_token_difference, expect_tokens, check_tokens, assert_draws_allowed,
    frequency_tolerance, assert_frequencies_match, assert_filtered, assert_called_on_prefixes,
    assert_eos_rules,
)
