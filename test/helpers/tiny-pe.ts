/**
 * A minimal valid PE32+ executable for Windows x64 (Microsoft PE/COFF specification): DOS header,
 * PE signature, COFF header, optional header with 16 empty data directories, one `.text` section
 * holding `xor eax, eax; ret`. 1 KiB, so Authenticode tests sign and verify it in milliseconds
 * instead of a 90 MB node.exe.
 */
export function tinyPe(): Uint8Array {
	const FILE_ALIGN = 0x200;
	const buf = Buffer.alloc(2 * FILE_ALIGN);
	// DOS header: "MZ", e_lfanew at 0x3C points to the PE signature.
	buf.write("MZ", 0, "latin1");
	buf.writeUInt32LE(0x40, 0x3c);
	buf.write("PE\0\0", 0x40, "latin1");
	// COFF header (20 bytes).
	const coff = 0x44;
	buf.writeUInt16LE(0x8664, coff); // Machine: AMD64
	buf.writeUInt16LE(1, coff + 2); // NumberOfSections
	buf.writeUInt16LE(240, coff + 16); // SizeOfOptionalHeader (PE32+)
	buf.writeUInt16LE(0x0022, coff + 18); // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE
	// Optional header, PE32+ (240 bytes).
	const opt = coff + 20;
	buf.writeUInt16LE(0x20b, opt); // Magic
	buf.writeUInt32LE(FILE_ALIGN, opt + 4); // SizeOfCode
	buf.writeUInt32LE(0x1000, opt + 16); // AddressOfEntryPoint
	buf.writeUInt32LE(0x1000, opt + 20); // BaseOfCode
	buf.writeBigUInt64LE(0x140000000n, opt + 24); // ImageBase
	buf.writeUInt32LE(0x1000, opt + 32); // SectionAlignment
	buf.writeUInt32LE(FILE_ALIGN, opt + 36); // FileAlignment
	buf.writeUInt16LE(6, opt + 40); // MajorOperatingSystemVersion
	buf.writeUInt16LE(6, opt + 48); // MajorSubsystemVersion
	buf.writeUInt32LE(0x2000, opt + 56); // SizeOfImage
	buf.writeUInt32LE(FILE_ALIGN, opt + 60); // SizeOfHeaders
	buf.writeUInt16LE(3, opt + 68); // Subsystem: console
	buf.writeUInt16LE(0x8160, opt + 70); // DllCharacteristics: NX, DYNAMIC_BASE, HIGH_ENTROPY_VA, TS
	buf.writeBigUInt64LE(0x100000n, opt + 72); // SizeOfStackReserve
	buf.writeBigUInt64LE(0x1000n, opt + 80); // SizeOfStackCommit
	buf.writeBigUInt64LE(0x100000n, opt + 88); // SizeOfHeapReserve
	buf.writeBigUInt64LE(0x1000n, opt + 96); // SizeOfHeapCommit
	buf.writeUInt32LE(16, opt + 108); // NumberOfRvaAndSizes (the directories stay zero)
	// Section header (40 bytes).
	const sec = opt + 240;
	buf.write(".text", sec, "latin1");
	buf.writeUInt32LE(3, sec + 8); // VirtualSize
	buf.writeUInt32LE(0x1000, sec + 12); // VirtualAddress
	buf.writeUInt32LE(FILE_ALIGN, sec + 16); // SizeOfRawData
	buf.writeUInt32LE(FILE_ALIGN, sec + 20); // PointerToRawData
	buf.writeUInt32LE(0x60000020, sec + 36); // CODE | EXECUTE | READ
	// The code: xor eax, eax; ret.
	buf.set([0x31, 0xc0, 0xc3], FILE_ALIGN);
	return new Uint8Array(buf);
}
