/** The names credops.yaml may have at the repo root, in order of preference. */
export const CONFIG_FILES = ['credops.yaml', 'credops.yml'];
