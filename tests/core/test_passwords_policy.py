from __future__ import annotations

import pytest

from idgate.core.errors import WeakPassword
from idgate.core.passwords.policy import PasswordPolicy

policy = PasswordPolicy(min_length=15, max_length=1024)


@pytest.mark.parametrize(
    "password",
    [
        "lowercase words only here",
        "~`!@#$%^&*()[]{}<>\\|;:'\",./? with spaces",
        "пароль из русских слов и пробелов",
        "日本語のパスワードはとても長いです",
        "🔐🐍🦄🌍🚀🎉🍕🎸🌈⚡🔥💧🌙⭐🍀",
        "€" * 15 + " and more",
        "Tq8#vL2m!Rz5@Wp9&Kd4^Hs7*Nb3(Xf6)Jc1_Ug0+Ye8=Ma2-Oi5~Ql7;Zr4:Vt9,",
    ],
)
def test_accepts_any_characters_without_composition_rules(password: str) -> None:
    policy.check(password)


def test_length_is_counted_in_code_points_not_bytes() -> None:
    policy.check("€uro-Ünïcødé-ß!")  # 15 code points, more bytes
    with pytest.raises(WeakPassword, match="at least 15"):
        policy.check("€uro-Ünïcødé-ß")  # 14


def test_min_and_max_boundaries() -> None:
    local = PasswordPolicy(min_length=15, max_length=64, check_common=False)
    with pytest.raises(WeakPassword, match="at least 15"):
        local.check("a" * 14)
    local.check("a" * 15)
    local.check("a" * 64)
    with pytest.raises(WeakPassword, match="at most 64"):
        local.check("a" * 65)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password", "at least"),
        ("qwertyuiopasdfgh", "easy to guess"),
        ("1234567890123456", "easy to guess"),
        ("123456789987654321", "too common"),
        ("aaaaaaaaaaaaaaaaaaaa", "easy to guess"),
        ("idgateidgateidgate", "username or the name of this service"),
    ],
)
def test_refuses_common_and_guessable_passwords_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason):
        policy.check(password)


def test_refuses_passwords_built_from_the_username() -> None:
    with pytest.raises(WeakPassword, match="username"):
        policy.check("maximilian-maximilian", context=["maximilian"])
    policy.check("maximilian rides a purple bicycle", context=["maximilian"])


def test_refuses_nul_characters() -> None:
    with pytest.raises(WeakPassword, match="NUL"):
        policy.check("\x00" * 16)
    with pytest.raises(WeakPassword, match="NUL"):
        policy.check("abc\x00" + "k2#Lp9!vQz8&Rt5")


def test_overlong_repetition_is_refused_without_running_the_estimator() -> None:
    with pytest.raises(WeakPassword, match="repetitive"):
        policy.check("ab" * 100)
    policy.check("".join(chr(0x4E00 + i) for i in range(100)))


def test_minimum_cannot_go_below_nist_floor() -> None:
    with pytest.raises(ValueError):
        PasswordPolicy(min_length=7)
    with pytest.raises(ValueError):
        PasswordPolicy(min_length=15, max_length=63)
