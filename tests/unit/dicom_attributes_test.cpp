#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "storage/dicom_attributes.h"

namespace pacs {

DcmDataset minimal_ct() {
  DcmDataset ds;
  ds.putAndInsertString(DCM_SOPClassUID, "1.2.840.10008.5.1.4.1.1.2");
  ds.putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.5");
  ds.putAndInsertString(DCM_StudyInstanceUID, "1.2.3");
  ds.putAndInsertString(DCM_SeriesInstanceUID, "1.2.3.4");
  ds.putAndInsertString(DCM_PatientID, "P1");
  ds.putAndInsertString(DCM_Modality, "CT");
  ds.putAndInsertString(DCM_StudyDescription, "Head");
  return ds;
}

TEST(DicomAttributes, BuildsEveryLevelFromTheHeader) {
  DcmDataset ds = minimal_ct();
  auto entry = index_entry_from(ds, "1.2.840.10008.1.2.1");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->patient.patient_id, "P1");
  EXPECT_EQ(entry->study.study_uid.str(), "1.2.3");
  EXPECT_EQ(entry->study.description, "Head");
  EXPECT_EQ(entry->series.modality, "CT");
  EXPECT_EQ(entry->instance.sop_instance_uid.str(), "1.2.3.4.5");
  EXPECT_EQ(entry->instance.transfer_syntax, "1.2.840.10008.1.2.1");
}

TEST(DicomAttributes, LevelAttributesRoundTrip) {
  DcmDataset ds = minimal_ct();
  auto entry = index_entry_from(ds, "1.2.840.10008.1.2.1");
  ASSERT_TRUE(entry);
  DcmDataset study;
  ASSERT_TRUE(decode_attributes(entry->study.attributes, study));
  OFString value;
  EXPECT_TRUE(study.findAndGetOFString(DCM_StudyDescription, value).good());
  EXPECT_EQ(value, "Head");
  EXPECT_TRUE(study.findAndGetOFString(DCM_Modality, value).bad()) << "a series attribute";
  DcmDataset instance;
  ASSERT_TRUE(decode_attributes(entry->instance.attributes, instance));
  EXPECT_TRUE(instance.findAndGetOFString(DCM_Modality, value).good());
}

TEST(DicomAttributes, ASelectiveDecodeKeepsOnlyTheWantedTopLevelElements) {
  DcmDataset ds = minimal_ct();
  ds.putAndInsertString(DCM_PatientName, "Doe^Jane");
  ds.putAndInsertString(DCM_PatientComments, std::string(300, 'x').c_str());  // LT: short length
  ds.putAndInsertString(DCM_ImageComments, "long text");                      // LT
  ds.putAndInsertString(DCM_RetrieveURL, "http://127.0.0.1/x");               // UR: 4-byte length
  DcmItem* item = nullptr;
  ASSERT_TRUE(ds.findOrCreateSequenceItem(DCM_ProcedureCodeSequence, item, -2).good());
  item->putAndInsertString(DCM_CodeValue, "CT-HEAD");
  item->putAndInsertString(DCM_PatientID, "nested, not top level");
  const std::string bytes = encode_attributes(ds);

  std::vector<DcmTagKey> wanted = {DCM_PatientName, DCM_RetrieveURL, DCM_ProcedureCodeSequence,
                                   DCM_StudyDescription, DCM_AccessionNumber};
  std::sort(wanted.begin(), wanted.end());
  DcmDataset out;
  ASSERT_TRUE(decode_attributes(bytes, out, wanted));
  EXPECT_EQ(out.card(), 4u) << "AccessionNumber was never stored";
  OFString value;
  EXPECT_TRUE(out.findAndGetOFString(DCM_PatientName, value).good());
  EXPECT_EQ(value, "Doe^Jane");
  EXPECT_TRUE(out.findAndGetOFString(DCM_RetrieveURL, value).good());
  EXPECT_EQ(value, "http://127.0.0.1/x");
  EXPECT_TRUE(out.findAndGetOFString(DCM_CodeValue, value, 0, OFTrue).good());
  EXPECT_EQ(value, "CT-HEAD");
  EXPECT_TRUE(out.findAndGetOFString(DCM_PatientID, value).bad()) << "not wanted";
  EXPECT_TRUE(out.findAndGetOFString(DCM_PatientComments, value).bad()) << "not wanted";

  // Bytes that do not walk cleanly are decoded the slow, complete way.
  DcmDataset truncated;
  EXPECT_FALSE(decode_attributes(bytes.substr(0, bytes.size() - 3), truncated, wanted));
}

TEST(DicomAttributes, BulkDataStaysOutOfTheIndex) {
  DcmDataset ds = minimal_ct();
  std::vector<Uint16> pixels(64 * 64, 7);
  ds.putAndInsertUint16Array(DCM_PixelData, pixels.data(),
                             static_cast<unsigned long>(pixels.size()));
  auto entry = index_entry_from(ds, "1.2.840.10008.1.2.1");
  ASSERT_TRUE(entry);
  EXPECT_LT(entry->instance.attributes.size(), 1024u);
}

TEST(DicomAttributes, Latin1TextIsIndexedAsUtf8) {
  DcmDataset ds = minimal_ct();
  ds.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 100");
  ds.putAndInsertString(DCM_PatientName, "M\xfcller^J\xe9r\xf4me");  // Latin-1 bytes
  auto entry = index_entry_from(ds, "1.2.840.10008.1.2.1");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->patient.name, "M\xc3\xbcller^J\xc3\xa9r\xc3\xb4me");
}

TEST(DicomAttributes, BytesThatAreNotUtf8BecomeQuestionMarks) {
  DcmDataset ds = minimal_ct();
  ds.putAndInsertString(DCM_PatientName, "Caf\xe9");  // no character set declared: not ASCII
  auto entry = index_entry_from(ds, "1.2.840.10008.1.2.1");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->patient.name, "Caf?");
}

TEST(DicomAttributes, MissingOrMalformedUidsAreInvalidObjects) {
  for (const DcmTagKey& tag :
       {DCM_StudyInstanceUID, DCM_SeriesInstanceUID, DCM_SOPInstanceUID, DCM_SOPClassUID}) {
    DcmDataset ds = minimal_ct();
    ds.findAndDeleteElement(tag);
    auto entry = index_entry_from(ds, "1.2.840.10008.1.2.1");
    ASSERT_FALSE(entry);
    EXPECT_EQ(entry.error().code, ErrorCode::InvalidObject);
  }
  DcmDataset ds = minimal_ct();
  ds.putAndInsertString(DCM_SeriesInstanceUID, "1.2.3/../../etc");
  auto entry = index_entry_from(ds, "1.2.840.10008.1.2.1");
  ASSERT_FALSE(entry);
  EXPECT_NE(entry.error().message.find("malformed Series Instance UID"), std::string::npos);
}

}  // namespace pacs
