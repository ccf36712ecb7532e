/** Nest injection tokens of the API module. */
export const API_QUERIES = Symbol('API_QUERIES');
