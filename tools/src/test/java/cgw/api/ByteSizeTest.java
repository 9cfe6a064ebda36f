package cgw.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ByteSizeTest {
    @ParameterizedTest
    @CsvSource({
            "4096, 4096",
            "0, 0",
            "512B, 512",
            "1K, 1024",
            "1KiB, 1024",
            "512MiB, 536870912",
            "512M, 536870912",
            "4GiB, 4294967296",
            "10G, 10737418240",
            "1T, 1099511627776",
            "2TiB, 2199023255552",
            "1P, 1125899906842624",
            "1PiB, 1125899906842624",
            "1KB, 1000",
            "10GB, 10000000000",
            "1TB, 1000000000000",
            "1PB, 1000000000000000",
            "1.5KiB, 1536",
            "0.5GiB, 536870912",
            "'  4 GiB ', 4294967296",
            "7.0, 7",
            "9223372036854775807, 9223372036854775807",
            "8191P, 9222246136947933184",
    })
    void parsesSizes(String text, long bytes) {
        assertThat(ByteSize.parseBytes(text)).isEqualTo(bytes);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "-1                   | negative",
            "-4GiB                | negative",
            "0.3KiB               | not a whole number of bytes (307.2)",
            "1.5                  | not a whole number of bytes",
            "12XB                 | unknown unit 'XB'",
            "4gib                 | unknown unit 'gib'",
            "4 G i B              | expected a number",
            "''                   | expected a number",
            "GiB                  | expected a number",
            "1e3                  | expected a number",
            ".5G                  | expected a number",
            "9223372036854775808  | larger than 9223372036854775807 bytes",
            "8192P                | larger than",
            "99999999999999999999999999999999999999999999999999999999999999999 | longer than 64 characters",
    })
    void refusesWithAReason(String text, String reason) {
        assertThatThrownBy(() -> ByteSize.parseBytes(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(reason);
    }
}
