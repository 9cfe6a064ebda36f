package cgw.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NbdFrontendTest {
    @Test
    void storeThreadsDefaultToTwiceTheCoresAndAtLeastFour() {
        assertThat(NbdFrontend.storeThreads(null, 1)).isEqualTo(4);
        assertThat(NbdFrontend.storeThreads(null, 2)).isEqualTo(4);
        assertThat(NbdFrontend.storeThreads(null, 16)).isEqualTo(32);
    }

    @Test
    void storeThreadsFollowTheProperty() {
        assertThat(NbdFrontend.storeThreads("1", 2)).isEqualTo(1);
        assertThat(NbdFrontend.storeThreads(" 12 ", 2)).isEqualTo(12);
        assertThat(NbdFrontend.storeThreads("1024", 2)).isEqualTo(1024);
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-3", "1025", "four", "", "2.5", "99999999999"})
    void anythingButACountFromOneTo1024IsRefusedNamingTheProperty(String value) {
        assertThatThrownBy(() -> NbdFrontend.storeThreads(value, 2))
                .isInstanceOf(ServeException.class)
                .hasMessage("-Dcgw.nbd.storeThreads must be a number of threads from 1 to 1024, got '" + value + "'");
    }
}
