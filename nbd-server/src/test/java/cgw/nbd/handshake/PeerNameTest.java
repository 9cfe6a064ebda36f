package cgw.nbd.handshake;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PeerNameTest {
    @Test
    void theCommonNameOfTheSubjectNamesTheClient() {
        assertThat(PeerName.commonName("CN=alice")).isEqualTo("alice");
        assertThat(PeerName.commonName("CN=db-host-1,O=Example,C=DE")).isEqualTo("db-host-1");
        assertThat(PeerName.commonName("O=Example")).isNull();
        assertThat(PeerName.commonName("not a name")).isNull();
    }
}
