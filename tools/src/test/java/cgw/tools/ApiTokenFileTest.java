package cgw.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiTokenFileTest {
    @TempDir
    Path dir;

    @Test
    void makesA256BitTokenOwnerOnlyThenReusesIt() throws Exception {
        Path file = dir.resolve("data/api-token");
        String token = ApiTokenFile.loadOrCreate(file);
        assertThat(token).matches("[0-9a-f]{64}");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(Files.readString(file)).isEqualTo(token + "\n");
        try (var leftovers = Files.list(file.getParent())) {
            assertThat(leftovers).containsExactly(file);
        }
        assertThat(ApiTokenFile.loadOrCreate(file)).isEqualTo(token);
        assertThat(ApiTokenFile.loadOrCreate(dir.resolve("other"))).isNotEqualTo(token);
    }

    @Test
    void refusesAFileWithoutAToken() throws Exception {
        Path file = dir.resolve("api-token");
        Files.writeString(file, "hunter2\n");
        assertThatThrownBy(() -> ApiTokenFile.loadOrCreate(file))
                .isInstanceOf(ServeException.class)
                .hasMessage(
                        file + " does not hold a token (64 hex digits); delete it and a new one is made on start");
    }
}
