package cgw.cli;

import cgw.host.TrustedCa;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import javax.net.ssl.SSLContext;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The options every client command takes: which gateway, which token, which CA, table or JSON.
 * An explicit option wins over the environment ({@code CGW_URL}, {@code CGW_TOKEN}), which wins
 * over the defaults under {@code ./cgw-data}. Filled by picocli, then read once by the command,
 * on the main thread.
 */
public final class ClientOptions {
    static final String SERVER_VARIABLE = "CGW_URL";
    static final String TOKEN_VARIABLE = "CGW_TOKEN";
    static final String DEFAULT_SERVER = "http://127.0.0.1:10810";
    static final String DEFAULT_TOKEN_FILE = "./cgw-data/api-token";
    static final String DEFAULT_CA_CERT = "./cgw-data/tls/ca-cert.pem";
    /** Larger token or certificate files are refused unread: they cannot be what we look for. */
    private static final long MAX_FILE_BYTES = 1 << 20;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--server", paramLabel = "URL", description = {"The gateway's REST API",
            "(default: $" + SERVER_VARIABLE + ", else " + DEFAULT_SERVER + ")"})
    String server;

    @Option(names = "--token-file", paramLabel = "FILE", description = {"File holding the API token",
            "(default: $" + TOKEN_VARIABLE + ", the token itself,",
            "else " + DEFAULT_TOKEN_FILE + ")"})
    Path tokenFile;

    @Option(names = "--ca-cert", paramLabel = "FILE", description = {"PEM CA certificate to trust for https",
            "(default: " + DEFAULT_CA_CERT + " if it exists,",
            "else the system's CAs)"})
    Path caCert;

    @Option(names = "--json", description = "Print the server's JSON instead of a table")
    boolean json;

    private final ClientEnvironment environment;

    public ClientOptions(ClientEnvironment environment) {
        this.environment = environment;
    }

    /** The factory that gives every client command {@code environment}; other classes are made as picocli does. */
    public static CommandLine.IFactory factory(ClientEnvironment environment) {
        CommandLine.IFactory fallback = CommandLine.defaultFactory();
        return new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> type) throws Exception {
                return type == ClientOptions.class ? type.cast(new ClientOptions(environment)) : fallback.create(type);
            }
        };
    }

    boolean json() {
        return json;
    }

    /** A client for the chosen gateway, with its token and TLS trust read. */
    GatewayClient connect() {
        URI uri = serverUri();
        return new GatewayClient(uri, token(), tls(uri));
    }

    private URI serverUri() {
        String variable = environment.variable(SERVER_VARIABLE);
        String text = server != null ? server : variable != null ? variable : DEFAULT_SERVER;
        String origin = server != null ? "--server" : variable != null ? SERVER_VARIABLE : "default";
        try {
            URI uri = new URI(text);
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            if ((scheme.equals("http") || scheme.equals("https")) && uri.getHost() != null
                    && uri.getRawQuery() == null && uri.getRawFragment() == null && uri.getRawUserInfo() == null) {
                String path = uri.getRawPath() == null ? "" : uri.getRawPath().replaceAll("/+$", "");
                return new URI(scheme + "://" + uri.getRawAuthority() + path);
            }
        } catch (URISyntaxException e) {
            // refused below, with the usage
        }
        throw new ParameterException(command.commandLine(), "invalid server URL '" + text + "' (from " + origin
                + "): expected http://HOST:PORT or https://HOST:PORT");
    }

    private ApiToken token() {
        if (tokenFile != null) {
            return tokenIn(tokenFile, "");
        }
        String variable = environment.variable(TOKEN_VARIABLE);
        if (variable != null) {
            return new ApiToken(variable.strip(), "$" + TOKEN_VARIABLE);
        }
        return tokenIn(environment.resolve(DEFAULT_TOKEN_FILE), " (or set " + TOKEN_VARIABLE + " or --token-file)");
    }

    private static ApiToken tokenIn(Path file, String hint) {
        String token = new String(read(file, "the API token file", hint), StandardCharsets.US_ASCII).strip();
        return new ApiToken(token, file.toString());
    }

    /** For https: the CA of {@code --ca-cert}, else the gateway's default CA file when it exists, else null (the system's). */
    private SSLContext tls(URI uri) {
        if (!uri.getScheme().equals("https")) {
            return null;
        }
        Path file = caCert != null ? caCert : environment.resolve(DEFAULT_CA_CERT);
        if (caCert == null && !Files.isRegularFile(file)) {
            return null;
        }
        try {
            return TrustedCa.sslContext(read(file, "the CA certificate file", ""), "the CA certificate file " + file);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage(), e);
        }
    }

    /** A small file (a token, a PEM) whole; {@code what} names it in the one-line error. */
    static byte[] read(Path file, String what, String hint) {
        try {
            if (Files.size(file) > MAX_FILE_BYTES) {
                throw new CliException(
                        "cannot read " + what + " " + file + ": larger than " + MAX_FILE_BYTES + " bytes");
            }
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new CliException("cannot read " + what + " " + file + ": no such file" + hint, e);
        } catch (AccessDeniedException e) {
            throw new CliException("cannot read " + what + " " + file + ": permission denied", e);
        } catch (IOException e) {
            throw new CliException("cannot read " + what + " " + file + ": " + e.getMessage(), e);
        }
    }
}
