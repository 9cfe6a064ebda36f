package cgw.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BackupRootsTest {
    @TempDir
    Path dir;

    @Test
    void pathsInARootResolveToWhereTheyLead() throws IOException {
        Path root = Files.createDirectories(dir.resolve("backups"));
        Files.createDirectories(root.resolve("a"));
        Path linkedRoot = Files.createSymbolicLink(dir.resolve("via-link"), root);
        BackupRoots roots = BackupRoots.of(List.of(linkedRoot));
        Path real = root.toRealPath();

        assertThat(roots.confine(root)).isEqualTo(real);
        assertThat(roots.confine(root.resolve("repo"))).isEqualTo(real.resolve("repo"));
        assertThat(roots.confine(root.resolve("new/deeper/repo"))).isEqualTo(real.resolve("new/deeper/repo"));
        assertThat(roots.confine(Path.of(root + "/a/../b"))).isEqualTo(real.resolve("b"));
        assertThat(roots.confine(Path.of(root + "/./c"))).isEqualTo(real.resolve("c"));
    }

    @Test
    void pathsThatLeadOutAreRefused() throws IOException {
        Path root = Files.createDirectories(dir.resolve("backups"));
        Files.createSymbolicLink(root.resolve("out"), dir);
        Files.createDirectories(dir.resolve("backups-sibling"));
        BackupRoots roots = BackupRoots.of(List.of(root));

        for (String path : List.of(dir + "/elsewhere", root + "/../elsewhere", root + "/out/repo",
                root + "/missing/../../elsewhere", dir + "/backups-sibling/repo", "/")) {
            assertThatThrownBy(() -> roots.confine(Path.of(path))).as(path)
                    .isInstanceOf(TargetNotAllowedException.class);
        }
        assertThatThrownBy(() -> roots.confine(Path.of(root + "/missing/../x")))
                .hasMessageContaining("has '..' below a directory that does not exist");
    }

    @Test
    void rootsMustExist() {
        assertThatThrownBy(() -> BackupRoots.of(List.of(dir.resolve("nope"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is not a directory");
        assertThat(BackupRoots.anywhere().confine(Path.of("/etc"))).isEqualTo(Path.of("/etc"));
    }
}
