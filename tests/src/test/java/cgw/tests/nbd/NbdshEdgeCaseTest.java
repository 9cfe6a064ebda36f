package cgw.tests.nbd;

import static cgw.tests.ExternalTool.nbdsh;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool.Result;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Protocol corners through libnbd's Python bindings (nbdsh): structured reads with hole chunks
 * and DF, block status with REQ_ONE, FUA, fast zero, cache, flush, and a flush on one connection
 * covering writes made on another (multi-conn). Each script asserts and prints OK.
 */
class NbdshEdgeCaseTest {
    @TempDir
    Path dir;
    private NbdFixture nbd;

    @BeforeEach
    void start() {
        nbd = new NbdFixture(dir);
        nbd.createVolume("disk", 8L << 20);
    }

    @AfterEach
    void stop() throws Exception {
        nbd.close();
    }

    private void script(String python) {
        Result result = nbdsh("--base-allocation", "-u", nbd.uri("disk"), "-c", python + "\nprint('OK')");
        assertThat(result.stdout()).as("stderr: %s", result.stderr()).contains("OK");
        result.assertSuccess();
    }

    @Test
    void structuredReadsSendHoleChunksForLongZeroRuns() {
        script("""
                import nbd
                h.pwrite(b'\\x01' * 65536, 0)
                h.pwrite(b'\\x02' * 65536, 1048576 + 65536)
                # a block of data that starts with zeros
                h.pwrite(bytes(100) + b'\\x03' * 3996, 1048576 + 131072)
                chunks = []
                def chunk(buf, offset, status, err):
                    chunks.append((offset, len(buf), status))
                    return 0
                buf = h.pread_structured(2 * 1048576, 0, chunk)
                assert buf[:65536] == b'\\x01' * 65536
                assert buf[65536:1048576 + 65536] == bytes(1048576)
                assert buf[1048576 + 65536:1048576 + 131072] == b'\\x02' * 65536
                assert buf[1048576 + 131072:1048576 + 135168] == bytes(100) + b'\\x03' * 3996
                holes = [c for c in chunks if c[2] == nbd.READ_HOLE]
                data = [c for c in chunks if c[2] == nbd.READ_DATA]
                assert (65536, 1048576, nbd.READ_HOLE) in holes, chunks
                assert sum(c[1] for c in chunks) == 2 * 1048576, chunks
                # DF: one content chunk, holes sent as data
                chunks.clear()
                buf = h.pread_structured(2 * 1048576, 0, chunk, flags=nbd.CMD_FLAG_DF)
                assert len(chunks) == 1 and chunks[0][2] == nbd.READ_DATA, chunks
                """);
    }

    @Test
    void blockStatusWithAndWithoutReqOne() {
        script("""
                import nbd
                # libnbd's order is (count, offset)
                h.pwrite(b'\\x07' * 8192, 0)
                h.pwrite(b'\\x08' * 8192, 16384)
                h.zero(4096, 16384, flags=nbd.CMD_FLAG_NO_HOLE)
                h.zero(4096, 20480)
                entries = []
                def extent(metacontext, offset, e, err):
                    assert metacontext == 'base:allocation'
                    entries.extend(e)
                    return 0
                h.block_status(65536, 0, extent)
                hole = nbd.STATE_HOLE | nbd.STATE_ZERO
                assert entries == [8192, 0, 8192, hole, 4096, nbd.STATE_ZERO, 65536 - 20480, hole], entries
                entries.clear()
                h.block_status(65536, 0, extent, flags=nbd.CMD_FLAG_REQ_ONE)
                assert entries == [8192, 0], entries
                entries.clear()
                h.block_status(100, 4000, extent, flags=nbd.CMD_FLAG_REQ_ONE)
                assert entries == [100, 0], entries
                """);
    }

    @Test
    void fuaFastZeroCacheAndFlush() {
        script("""
                import nbd
                h.pwrite(b'\\x09' * 4096, 4096, flags=nbd.CMD_FLAG_FUA)
                h.zero(2048, 4096, flags=nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_NO_HOLE)
                assert h.pread(4096, 4096) == bytes(2048) + b'\\x09' * 2048
                h.trim(1048576, 0, flags=nbd.CMD_FLAG_FUA)
                h.cache(1048576, 0)
                h.flush()
                assert h.can_multi_conn() and h.can_fast_zero() and h.can_cache() and h.can_df()
                assert h.get_block_size(nbd.SIZE_MAXIMUM) == 33554432
                assert h.get_block_size(nbd.SIZE_PREFERRED) == 4096
                """);
    }

    @Test
    void flushOnOneConnectionCoversWritesOfAnother() {
        script("""
                import nbd
                other = nbd.NBD()
                other.connect_uri(h.get_uri())
                other.pwrite(b'\\x0a' * 65536, 0)
                h.flush()
                assert h.pread(65536, 0) == b'\\x0a' * 65536
                other.shutdown()
                """);
    }

    @Test
    void outOfOrderRepliesMatchTheirCookies() {
        script("""
                import nbd
                for i in range(64):
                    h.aio_pwrite(bytes([i]) * 4096, i * 4096)
                while h.aio_in_flight() > 0:
                    h.poll(-1)
                bufs = [nbd.Buffer(4096) for i in range(64)]
                for i in range(64):
                    h.aio_pread(bufs[i], i * 4096)
                while h.aio_in_flight() > 0:
                    h.poll(-1)
                for i in range(64):
                    assert bufs[i].to_bytearray() == bytes([i]) * 4096, i
                """);
    }
}
