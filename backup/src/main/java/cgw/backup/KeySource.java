package cgw.backup;

import java.nio.file.Path;

/** What opens an encrypted repository: nothing (unencrypted), a passphrase, or a key file. */
public sealed interface KeySource {
    /** An unencrypted repository. */
    record None() implements KeySource {
    }

    /** A passphrase, stretched by Argon2id with the repository's parameters and salt. */
    record Passphrase(String passphrase) implements KeySource {
        public Passphrase {
            if (passphrase.isEmpty()) {
                throw new IllegalArgumentException("the passphrase is empty");
            }
        }

        @Override
        public String toString() {
            return "Passphrase[hidden]";
        }
    }

    /** A file of at least 32 random bytes, used through HKDF-SHA256 (it needs no stretching). */
    record KeyFile(Path path) implements KeySource {
    }

    static KeySource none() {
        return new None();
    }

    static KeySource passphrase(String passphrase) {
        return new Passphrase(passphrase);
    }

    static KeySource keyFile(Path path) {
        return new KeyFile(path);
    }
}
