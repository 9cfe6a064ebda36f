package cgw.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class NbdServerConfigTest {
    private static final NbdServerConfig DEFAULTS = NbdServerConfig.defaults(new InetSocketAddress("127.0.0.1", 0));

    /** A READ or WRITE larger than the budget lets one connection hold would wait for memory forever. */
    @Test
    void aBudgetTooSmallForTheLargestRequestIsRefusedAtOnce() {
        assertThat(DEFAULTS.withMemoryBudgetBytes(48L << 20).memoryBudgetBytes()).isEqualTo(48L << 20);
        assertThatThrownBy(() -> DEFAULTS.withMemoryBudgetBytes(40L << 20))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot admit a 33554432-byte request")
                .hasMessageContaining("MaxDirectMemorySize");
    }
}
