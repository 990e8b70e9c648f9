/** credops's version, as `credops --version` and the server's sys/health print it. */
export const VERSION = '0.1.0';
