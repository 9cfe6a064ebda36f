package cgw.cli;

import java.nio.file.Path;
import java.util.function.Function;

/**
 * Where the client commands find their defaults: environment variables ({@code CGW_URL},
 * {@code CGW_TOKEN}) and the directory that {@code ./cgw-data} is relative to. Tests pass their
 * own instead of touching the process's. Immutable.
 *
 * @param variables  the value of an environment variable, or null when it is not set
 * @param workingDir the directory relative default paths resolve against
 */
public record ClientEnvironment(Function<String, String> variables, Path workingDir) {
    /** This process's environment and working directory. */
    public static ClientEnvironment ofProcess() {
        return new ClientEnvironment(System::getenv, Path.of(""));
    }

    /** The variable's value, or null when it is unset or empty. */
    String variable(String name) {
        String value = variables.apply(name);
        return value == null || value.isEmpty() ? null : value;
    }

    /** {@code relativePath} ("./cgw-data/...") below the working directory, as short as it can be said. */
    Path resolve(String relativePath) {
        return workingDir.toString().isEmpty() ? Path.of(relativePath) : workingDir.resolve(relativePath).normalize();
    }
}
