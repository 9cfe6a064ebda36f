package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullAndEmptySource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Names}: what a volume or group may be called, and how a refusal reads. */
class NamesTest {
    private static final String LONGEST = "0123456789012345678901234567890123456789012345678901234567890123";
    @ParameterizedTest
    @ValueSource(strings = {"a", "vm-1", "db_wal.2", "...", "A-Z_a.z-09", LONGEST})
    void namesOfTheAllowedCharactersAreValid(String name) {
        assertThat(LONGEST).hasSize(64);
        assertThat(Names.isValid(name)).isTrue();
        assertThatCode(() -> Names.check("volume", name)).doesNotThrowAnyException();
    }

    @ParameterizedTest
    @NullAndEmptySource
    @ValueSource(strings = {".", "..", "a/b", "a@1", "a b", "a%2F", "é", LONGEST + "4"})
    void otherNamesAreRefused(String name) {
        assertThat(Names.isValid(name)).isFalse();
        assertThatThrownBy(() -> Names.check("group", name)).isInstanceOf(InvalidRequestException.class)
                .hasMessageStartingWith("invalid group name ");
    }

    @ParameterizedTest
    @ValueSource(strings = {"volume", "group"})
    void aRefusalNamesTheKindAndTheName(String kind) {
        assertThat(Names.refusal(kind, "a/b"))
                .isEqualTo("invalid " + kind + " name 'a/b': use 1 to 64 of A-Z a-z 0-9 . _ -");
        assertThat(Names.refusal(kind, null))
                .isEqualTo("invalid " + kind + " name null: use 1 to 64 of A-Z a-z 0-9 . _ -");
    }
}
