package cgw.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The cell formats of the client's tables. */
class ViewsTest {
    @ParameterizedTest
    @CsvSource({
            "0, 0 B",
            "1023, 1023 B",
            "1024, 1.0 KiB",
            "1536, 1.5 KiB",
            "1048575, 1.0 MiB",
            "4294967296, 4.0 GiB",
            "1125899906842624, 1.0 PiB",
            "9223372036854775807, 8.0 EiB",
    })
    void sizesAreInBinaryUnitsWithOneDecimal(long bytes, String text) {
        assertThat(Views.size(bytes)).isEqualTo(text);
    }

    @ParameterizedTest
    @CsvSource({
            "0, 0 us",
            "180, 180 us",
            "999, 999 us",
            "1000, 1.0 ms",
            "2500, 2.5 ms",
            "999999, 1.0 s",
            "12345678, 12.3 s",
    })
    void freezeTimesAreInTheUnitThatReadsBest(long micros, String text) {
        assertThat(Views.micros(micros)).isEqualTo(text);
    }
}
