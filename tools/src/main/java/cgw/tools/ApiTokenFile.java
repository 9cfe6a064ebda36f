package cgw.tools;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A REST token file, {@code DATA/api-token} or {@code DATA/read-token}: 256 random bits as 64
 * hex digits, made on first start and reused after. The file is born with mode 0600 (never chmod-ed after the token is in
 * it) and appears whole, by rename. Runs once on the serve thread, after the store's lock is
 * held, so no other gateway races it. It never logs the token.
 */
final class ApiTokenFile {
    private static final Logger log = LoggerFactory.getLogger(ApiTokenFile.class);
    static final int TOKEN_BYTES = 32;
    private static final Pattern TOKEN = Pattern.compile("[0-9a-f]{" + 2 * TOKEN_BYTES + "}");
    private static final Set<PosixFilePermission> OWNER_ONLY = Set.of(PosixFilePermission.OWNER_READ,
            PosixFilePermission.OWNER_WRITE);

    private ApiTokenFile() {
    }

    /** The token in {@code file}, made first if the file does not exist. */
    static String loadOrCreate(Path file) {
        try {
            if (Files.exists(file)) {
                return load(file);
            }
            return create(file);
        } catch (IOException e) {
            throw new ServeException("cannot use the token file " + file + ": " + e, e);
        }
    }

    private static String load(Path file) throws IOException {
        String token = Files.readString(file, StandardCharsets.US_ASCII).strip();
        if (!TOKEN.matcher(token).matches()) {
            throw new ServeException(file + " does not hold a token (" + 2 * TOKEN_BYTES
                    + " hex digits); delete it and a new one is made on start");
        }
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file);
        if (!OWNER_ONLY.containsAll(mode)) {
            log.warn("{} has mode {}: others may read its token; chmod 600 it", file,
                    PosixFilePermissions.toString(mode));
        }
        return token;
    }

    private static String create(Path file) throws IOException {
        byte[] random = new byte[TOKEN_BYTES];
        new SecureRandom().nextBytes(random);
        String token = HexFormat.of().formatHex(random);
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        FileAttribute<Set<PosixFilePermission>> ownerOnly = PosixFilePermissions.asFileAttribute(OWNER_ONLY);
        Path temp = Files.createTempFile(dir, "." + file.getFileName() + "-", ".tmp", ownerOnly);
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
                ByteBuffer content = ByteBuffer.wrap((token + "\n").getBytes(StandardCharsets.US_ASCII));
                while (content.hasRemaining()) {
                    channel.write(content);
                }
                channel.force(true);
            }
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        try (FileChannel directory = FileChannel.open(dir, StandardOpenOption.READ)) {
            directory.force(true); // the rename itself survives a crash
        }
        log.info("created token file {}", file);
        return token;
    }
}
