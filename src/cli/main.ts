/** Entry point of the `csc` command. */
export function main(argv: readonly string[]): Promise<number> {
  console.log(`csc: ${argv.join(' ')}`);
  return Promise.resolve(0);
}
