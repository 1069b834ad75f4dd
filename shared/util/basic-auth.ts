/** The `Basic` credentials of an Authorization (or Proxy-Authorization) header, as Go's SetBasicAuth writes them. */
export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
