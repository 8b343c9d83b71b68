import { BlockList, isIP } from 'node:net';

/**
 * Parses a comma-separated list of addresses and CIDR blocks (`127.0.0.0/8,::1/128,10.1.2.3`)
 * into a `BlockList` whose `check` answers membership (an IPv4-mapped IPv6 address such as
 * `::ffff:127.0.0.1` matches its IPv4 block). An empty string is an empty list.
 *
 * @throws TypeError naming the first entry that is not an address or a block.
 */
export function parseAddressList(text: string): BlockList {
  const list = new BlockList();
  for (const entry of text.split(',').map((part) => part.trim())) {
    if (entry === '') continue;
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
    const max = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      extra !== undefined ||
      !/^\d{0,3}$/.test(prefix ?? '') ||
      !(bits >= 0 && bits <= max)
    ) {
      throw new TypeError(`"${entry}" is not an IP address or a CIDR block such as 127.0.0.0/8`);
    }
    list.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** Whether `address` (as Node reports a peer: IPv4, IPv6 or IPv4-mapped IPv6) is in `list`. */
export function addressAllowed(list: BlockList, address: string | undefined): boolean {
  if (address === undefined) return false;
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}
