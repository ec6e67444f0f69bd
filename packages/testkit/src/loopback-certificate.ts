import selfsigned from 'selfsigned';

/**
 * A self-signed certificate (EC P-256, a week long) for a stand-in serving TLS on loopback: its
 * names are 127.0.0.1 and localhost; the certificate is also the CA a client is given.
 */
export async function loopbackCertificate(commonName: string): Promise<{ readonly cert: string; readonly key: string }> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    notAfterDate: new Date(Date.now() + 7 * 24 * 3600 * 1000),
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
