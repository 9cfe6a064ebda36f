package cgw.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HostPortTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "127.0.0.1:10810 | 127.0.0.1   | 10810 | 127.0.0.1:10810",
            "0.0.0.0:0       | 0.0.0.0     | 0     | 0.0.0.0:0",
            "localhost:65535 | localhost   | 65535 | localhost:65535",
            "[::1]:10809     | ::1         | 10809 | [::1]:10809",
            "[fe80::1%eth0]:1 | fe80::1%eth0 | 1   | [fe80::1%eth0]:1",
    })
    void parses(String text, String host, int port, String shown) {
        HostPort parsed = HostPort.parse(text);
        assertThat(parsed).isEqualTo(new HostPort(host, port));
        assertThat(parsed.toString()).isEqualTo(shown);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "foo              | expected HOST:PORT, like 127.0.0.1:10810, got 'foo'",
            "''               | expected HOST:PORT",
            ":10810           | missing host in ':10810'",
            "::1:10810        | put an IPv6 host in brackets",
            "[::1]            | expected [IPV6]:PORT",
            "[::1]10810       | expected [IPV6]:PORT",
            "[nope]:1         | 'nope' in '[nope]:1' is not an IPv6 address",
            "a b:1            | 'a b' in 'a b:1' is not a host name",
            "host:            | port must be a number from 0 to 65535, got '' in 'host:'",
            "host:65536       | port must be a number from 0 to 65535, got '65536'",
            "host:-1          | port must be a number from 0 to 65535, got '-1'",
            "host:http        | port must be a number from 0 to 65535, got 'http'",
            "host:000010810   | port must be a number from 0 to 65535",
    })
    void refusesWithAReason(String text, String reason) {
        assertThatThrownBy(() -> HostPort.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(reason);
    }

    @org.junit.jupiter.api.Test
    void showsTheBoundAddress() {
        assertThat(HostPort.of(new InetSocketAddress("127.0.0.1", 4242)).toString()).isEqualTo("127.0.0.1:4242");
    }
}
