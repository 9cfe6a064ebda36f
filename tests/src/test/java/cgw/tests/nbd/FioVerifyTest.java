package cgw.tests.nbd;

import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.nbd.export.Export;
import cgw.nbd.export.ExportRegistry;
import cgw.tests.ExternalTool.Result;
import io.netty.util.internal.PlatformDependent;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** fio's nbd engine writes with crc32c headers at queue depth 16 and reads everything back. */
class FioVerifyTest {
    @TempDir
    Path dir;
    private NbdFixture nbd;
    /** Where the payloads of writes of 1 MiB or more start, as the export saw them. */
    private final Queue<Long> largePayloads = new ConcurrentLinkedQueue<>();

    @BeforeEach
    void start() {
        require("fio", "fio");
        nbd = new NbdFixture(dir, config -> config, (store, exports) -> recordingLargePayloads(exports));
    }

    @AfterEach
    void stop() throws Exception {
        nbd.close();
    }

    @Test
    void randomWritesVerifyWithCrc32c() {
        nbd.createVolume("disk", 64L << 20);
        Result fio = run("fio", "--name=verify", "--ioengine=nbd", "--uri=" + nbd.uri("disk"),
                "--rw=randwrite", "--bssplit=4k/50:16k/30:64k/20", "--iodepth=16", "--size=64m",
                "--verify=crc32c", "--verify_fatal=1", "--do_verify=1", "--randrepeat=0", "--verify_state_save=0",
                "--output-format=normal").assertSuccess();
        assertThat(fio.stdout()).contains("verify").doesNotContain("verify: bad");
        assertThat(fio.stderr()).doesNotContain("verify: bad").doesNotContain("crc32c");
        // sizes from 512 bytes to 12 KiB at 512-byte alignment: most writes are partial blocks
        // large writes stream in over many socket reads, most of them straight into the payload
        run("fio", "--name=large", "--ioengine=nbd", "--uri=" + nbd.uri("disk"), "--rw=randwrite",
                "--bssplit=192k/30:1m/40:4m/30", "--iodepth=8", "--size=64m", "--verify=crc32c",
                "--verify_fatal=1", "--do_verify=1", "--randrepeat=0", "--verify_state_save=0").assertSuccess();
        run("fio", "--name=sectors", "--ioengine=nbd", "--uri=" + nbd.uri("disk"), "--rw=randwrite",
                "--bsrange=512-12k", "--blockalign=512", "--iodepth=8", "--size=16m", "--offset=32m",
                "--verify=crc32c", "--verify_fatal=1", "--do_verify=1", "--verify_state_save=0").assertSuccess();
    }

    /**
     * Sequential 1 MiB rewrites at queue depth 8: from the second pass on they overwrite in place,
     * and while one is at a store thread the event loop does the next ones itself
     * ({@code BlockStore.writeNoWait}). Every pass is verified.
     */
    @Test
    void sequentialRewritesDoneOnTheEventLoopVerify() {
        nbd.createVolume("disk", 32L << 20);
        for (int pass = 0; pass < 4; pass++) {
            run("fio", "--name=rewrite" + pass, "--ioengine=nbd", "--uri=" + nbd.uri("disk"), "--rw=write",
                    "--bs=1m", "--iodepth=8", "--size=32m", "--verify=crc32c", "--verify_fatal=1", "--do_verify=1",
                    "--verify_state_save=0", "--randseed=" + (pass + 1)).assertSuccess();
        }
        assertThat(nbd.store.noWaitWrites()).as("rewrites done on the event loop").isPositive();
        // the kernel's copies into and out of a payload are a fifth slower when it is off a cache line
        assertThat(largePayloads).as("1 MiB payloads seen").hasSizeGreaterThanOrEqualTo(4 * 32);
        assertThat(largePayloads).as("payload addresses modulo 64").allMatch(address -> address % 64 == 0);
    }

    /** {@code exports}, with the address of every write payload of 1 MiB or more recorded. */
    private ExportRegistry recordingLargePayloads(ExportRegistry exports) {
        return forwarding(ExportRegistry.class, exports, (method, args) -> {
            if (method.getName().equals("write") && args[1] instanceof ByteBuffer src && src.remaining() >= 1 << 20) {
                largePayloads.add(PlatformDependent.directBufferAddress(src) + src.position());
            }
        });
    }

    /**
     * {@code target} behind a proxy that shows {@code spy} every call before making it, and forwards
     * the exports it opens the same way.
     */
    @SuppressWarnings("unchecked")
    private static <T> T forwarding(Class<T> type, T target, BiConsumer<Method, Object[]> spy) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[]{type}, (proxy, method, args) -> {
            spy.accept(method, args);
            Object result;
            try {
                result = method.invoke(target, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
            return result instanceof Export export ? forwarding(Export.class, export, spy) : result;
        });
    }
}
