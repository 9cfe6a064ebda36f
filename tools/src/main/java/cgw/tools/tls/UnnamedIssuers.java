package cgw.tools.tls;

import cgw.host.TrustedCa;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A trust manager that checks client certificates against the gateway's CA like the JDK's own,
 * but names no acceptable issuer in the TLS 1.3 CertificateRequest ({@code certificate_authorities}
 * left out). GnuTLS clients (libnbd, so nbdinfo, nbdcopy and qemu's NBD client) pick their
 * certificate by comparing that list with their certificate's issuer; against the JDK 17.0.21
 * server none matched, and they sent no certificate (the handshake then failed with
 * "certificate_required"). Given no names, a client with one certificate sends it, and the check
 * here decides as before.
 */
final class UnnamedIssuers extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager checks;

    private UnnamedIssuers(X509ExtendedTrustManager checks) {
        this.checks = checks;
    }

    /** Checks as the first X.509 trust manager of {@code managers} ({@link TrustedCa#trustManagers}) does. */
    static UnnamedIssuers of(TrustManager[] managers) {
        return new UnnamedIssuers(Arrays.stream(managers).filter(X509ExtendedTrustManager.class::isInstance)
                .map(X509ExtendedTrustManager.class::cast).findFirst()
                .orElseThrow(
                        () -> new IllegalStateException("no X.509 trust manager in " + Arrays.toString(managers))));
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checks.checkClientTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checks.checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checks.checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checks.checkServerTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checks.checkServerTrusted(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checks.checkServerTrusted(chain, authType, engine);
    }
}
